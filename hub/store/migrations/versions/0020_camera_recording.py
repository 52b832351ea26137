"""Recording policies of cameras set through the API.

Revision ID: 0020_camera_recording
Revises: 0019_ui_camera_heading
Create Date: 2026-12-05

``cameras.recording`` holds the policy the owning department set
(``PUT /api/v1/cameras/{id}/recording``: streams.recording.config.CameraRecording as JSON);
NULL: none (the relay's config may still record the camera). Relays read it with the
cameras they pull and apply it while running.
"""

from alembic import op

revision = "0020_camera_recording"
down_revision = "0019_ui_camera_heading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE cameras ADD COLUMN recording jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE cameras DROP COLUMN recording")
