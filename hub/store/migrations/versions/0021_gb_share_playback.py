"""Upward shares may allow playback of the camera's recordings (GB/T 28181 s=Playback).

Revision ID: 0021_gb_share_playback
Revises: 0020_camera_recording
Create Date: 2026-12-05

Live viewing and recorded footage are separate rights in cityhub (a department's grants
name ``playback`` apart): a share lets the upper platform watch live, and only with
``playback`` ask for the recording. Deny by default: existing shares stay live-only.
"""

from alembic import op

revision = "0021_gb_share_playback"
down_revision = "0020_camera_recording"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE gb_upper_shares ADD COLUMN playback boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE gb_upper_shares DROP COLUMN playback")
