from bff.projector.entrypoint import main

main()
