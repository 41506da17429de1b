DROP TABLE numbers;
DROP TABLE step_destinations;
DROP TABLE scheme_steps;
DROP TABLE schemes;
