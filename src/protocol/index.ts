// Barrel of src/protocol: filled in by the module's owner.
export {};
