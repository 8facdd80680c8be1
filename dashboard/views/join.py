"""Join the class (``/join?code=...``): a student's own device in a live classroom session."""

from dashboard.classroom import student

student.render()
