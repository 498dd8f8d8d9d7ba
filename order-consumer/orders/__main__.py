from orders.entrypoint import main

main()
