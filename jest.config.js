/** @type {import('jest').Config} */
module.exports = {
    preset: "ts-jest",
    testEnvironment: "node",
    roots: ["<rootDir>/test", "<rootDir>/rig"],
    testMatch: ["**/*.test.ts"],
    testTimeout: 30000,
    globalSetup: "<rootDir>/test/prerequisites.ts",
};
