// Barrel of src/simulator: filled in by the module's owner.
export {};
