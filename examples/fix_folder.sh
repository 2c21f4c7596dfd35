#!/usr/bin/env bash
# Fix a folder of recordings: remove background noise, then normalise to podcast loudness
# (-16 LUFS integrated, true peak <= -1 dBTP). Subfolders are mirrored into the output folder;
# the originals are never modified. A file that cannot be processed is reported and skipped,
# and the script exits non-zero at the end if anything failed.
#
#   usage: examples/fix_folder.sh IN_DIR [OUT_DIR] [extra ming-edit options, e.g. --overwrite]
set -euo pipefail

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
in_dir=$1
out_dir=${2:-${in_dir%/}.fixed}
shift $(( $# >= 2 ? 2 : 1 ))

ming=(ming-edit)
command -v ming-edit >/dev/null 2>&1 || ming=(python3 -m ming_edit)

"${ming[@]}" edit "$in_dir" "denoise and normalize for podcasts" -o "$out_dir" --recursive "$@"
echo "fixed recordings are in $out_dir"
