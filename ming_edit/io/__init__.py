"""Files in and out: audio probe/read/validate (audio.py), container and sample-format rules
(formats.py), the one atomic writer (writer.py), and folder walks and output-path rules (files.py).
No torch here."""
