from chainlint.cli import main

main()
