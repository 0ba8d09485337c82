from aurora_ingest.main import main

main()
