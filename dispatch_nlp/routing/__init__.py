"""From the stages' evidence to a decision: fusion, the responsible unit, the route."""
