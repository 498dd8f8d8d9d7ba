from saas_demo.entrypoint import main

main()
