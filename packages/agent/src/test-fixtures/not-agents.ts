export default { name: 'looks-like-an-agent' };
