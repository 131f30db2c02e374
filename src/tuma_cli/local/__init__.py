"""The whole Tuma topology on one machine: moto for AWS, the simulator, Lambda-like glue."""
