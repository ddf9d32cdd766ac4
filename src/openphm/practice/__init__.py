"""The practice side: runs at a GP practice, never inside the programme's workspace.

A practice makes its own key pair (the private half never leaves the practice), and opens the
re-identification tokens in the cohort lists it receives. Reads cohort lists and the practice's
own patient list; writes the practice's worklists on the practice's own machine.
"""
