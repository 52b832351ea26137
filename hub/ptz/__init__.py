"""PTZ control with arbitration: one controller per camera, department priorities, locks."""
