from chainlint.entry import main

main()
