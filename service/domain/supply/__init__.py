"""Supply: what a patient has of each formulation, how long it lasts along the plan,
and what to dispense for each period of a taper (docs/clinical.md, "Supply and
refills")."""
