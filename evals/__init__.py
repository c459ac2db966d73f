"""The eval suite: scenarios run through the real session loop against simulated targets.

See evals/README.md for the scenario format, the drivers, the graders and the metrics.
"""
