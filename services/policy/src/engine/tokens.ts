export const TARGET_ACCOUNTS = Symbol('TARGET_ACCOUNTS');
