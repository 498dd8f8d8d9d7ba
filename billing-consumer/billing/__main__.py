from billing.entrypoint import main

main()
