from detcov.cli.main import main

main()
