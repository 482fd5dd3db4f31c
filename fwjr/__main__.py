from fwjr.cli.main import main

main()
