"""Actions: the registry of `ActionSpec`s (every action declared once, with its behaviour) and
the dispatcher, the one door every mutating call goes through."""
