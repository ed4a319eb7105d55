// Barrel of src/agent: filled in by the module's owner.
export {};
