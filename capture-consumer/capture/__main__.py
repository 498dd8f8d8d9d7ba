from capture.entrypoint import main

main()
