from ming_edit.cli import main

main()
