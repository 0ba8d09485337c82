from aurora_identity.main import main

main()
