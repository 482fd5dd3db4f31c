from fwjr.cli import main

main()
