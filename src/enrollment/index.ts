// Barrel of src/enrollment: filled in by the module's owner.
export {};
