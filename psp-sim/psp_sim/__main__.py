from psp_sim.entrypoint import main

main()
