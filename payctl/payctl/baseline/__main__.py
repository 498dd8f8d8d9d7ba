from payctl.baseline.server import main

main()
