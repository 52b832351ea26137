from devkit.basemap.server import main

main()
