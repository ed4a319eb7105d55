// Barrel of src/testing: filled in by the module's owner.
export {};
