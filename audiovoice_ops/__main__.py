from audiovoice_ops.cli import main

main()
