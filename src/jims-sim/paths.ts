/** Where the simulator shows its identity table (GET): a JSON array of {ip, user, domain, device, since}. */
export const SIM_SESSIONS_PATH = '/api/v1/ptim/sessions';
