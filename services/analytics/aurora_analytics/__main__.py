from aurora_analytics.main import main

main()
