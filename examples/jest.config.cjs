module.exports = require('@causeway/testkit/jest').createJestConfig(__dirname);
