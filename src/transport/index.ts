// Barrel of src/transport: filled in by the module's owner.
export {};
