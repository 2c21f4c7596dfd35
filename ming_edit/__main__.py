from ming_edit.cli.app import main

main()
