from aurora_dedup.main import main

main()
