"""The demo: a whole programme on a synthetic region, every stage that exists, in one command.

Writes a synthetic region and a workspace under the folder it is given; prints what each stage
did and where to look. It grows as stages land, and is the README's main job.
"""
