/** Product version reported in SIEM events (OCSF metadata.product.version, CEF device version). */
export const PRODUCT_VERSION = '0.1.0';
