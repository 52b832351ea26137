import sys

from devkit.onvif.camera import main

sys.exit(main(sys.argv[1:]))
