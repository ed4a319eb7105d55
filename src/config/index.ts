// Barrel of src/config: filled in by the module's owner.
export {};
