#include "control/pilot_config.hpp"
