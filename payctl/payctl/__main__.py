from payctl.cli import main

main()
