"""The networked classroom: a teacher's session that students join from their own devices.

- ``store``: the SQLite store (sessions, participants, predictions, teams, votes, moves, injects,
  the game's seeds); nothing else touches the database.
- ``rules``: the session's rules as pure functions (input checks, vote tallies, timeouts, the
  flood limit); no I/O.
- ``game``: a game's simulation state, derived from the stored moves and seeds (one engine run
  per month for every device).
- ``service``: what a student's device and the teacher's console may do (rules + store).
- ``export``: the debrief (markdown, PDF) and the per-student CSV.
- ``net``: the LAN join address and its QR code.
- ``console``: the teacher's console (Streamlit), shown in a tab of the Classroom page.

See ``docs/classroom.md``.
"""
