/** @type {import('jest').Config} */
module.exports = {
    preset: "ts-jest",
    testEnvironment: "node",
    roots: ["<rootDir>/test", "<rootDir>/rig"],
    testMatch: ["**/*.test.ts"],
    // A bound for a test that hangs, generous enough for a machine busy with other work.
    testTimeout: 180000,
    globalSetup: "<rootDir>/test/prerequisites.ts",
};
