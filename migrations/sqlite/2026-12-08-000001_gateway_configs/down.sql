DROP TABLE gateway_configs;
