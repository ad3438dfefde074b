from mlnews.cli import main

main()
