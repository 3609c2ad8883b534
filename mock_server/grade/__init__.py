"""Grading a client of the site: ``aichat-mock grade TARGET`` runs it, unchanged, against a
fresh mock and prints its report card (``runner.grade``, ``card.Card``), with the checks written
once from the contract and the fault catalogue (``checks``); ``history`` grades every Aichat a
g4f release shipped. docs/grading.md is the reference.
"""
